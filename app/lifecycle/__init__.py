"""A model version's life, on the application's side of the island: the labeled data handed
to app/sentiment (datasets), train → evaluate → compare on the same held-out reviews →
promote → re-score (versions), the model the site serves (serving), stored versions side by
side (comparison) and the learning curve (curve)."""
