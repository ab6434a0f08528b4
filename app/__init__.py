"""Textflix: a movie-review site whose sentiment comes from a fine-tuned BERT-family encoder."""
