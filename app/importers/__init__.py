"""Importers that stream public datasets into the database, idempotently."""
