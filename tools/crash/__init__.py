"""The crash suite: ``cryptostream up`` killed at random and at chosen request boundaries, starved of disk,
restarted, and accounted for against the market simulator (``python -m tools.crash``; ``make crash-short``)."""
