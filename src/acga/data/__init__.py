"""Data: release readers (A2D-Sentences, JHMDB-Sentences), the synthetic benchmark, clips,
text and word vectors, and the feature cache."""
