"""The model side: text handling, inference, training, evaluation and the model registry."""
