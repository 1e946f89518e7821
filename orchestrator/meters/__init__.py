"""Energy meters: one small interface (base.py), one module per meter."""
