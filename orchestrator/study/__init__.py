"""Studies: a matrix of campaigns from one file (docs/studies.md)."""
