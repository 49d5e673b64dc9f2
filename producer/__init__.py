"""cryptostream: see README.md."""
