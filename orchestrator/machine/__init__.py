"""The machine a measurement runs on: what it is (provenance) and what would spoil a
measurement on it (doctor)."""
