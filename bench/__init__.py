"""The national-quarter benchmark (`make bench`); see bench/run.py."""
