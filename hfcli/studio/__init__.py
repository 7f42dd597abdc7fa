"""The procedural studio: shapes (SDFs), the vocabulary, its parser and split, exact ground truth,
and NeRF-synthetic datasets. A world with a known answer, so quality is measured in dB."""
