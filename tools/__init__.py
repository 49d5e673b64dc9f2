"""Developer tools that drive the project from outside: the deployed-app proof (``tools.deployed``)."""
