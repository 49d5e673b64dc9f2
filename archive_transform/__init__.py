"""Firehose data transformation: only valid quotes reach the archive; poison goes to the error prefix."""
