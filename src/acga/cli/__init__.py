"""Command-line interface: one module per subcommand (``COMMAND``, ``HELP``, ``add_args``, ``run``)."""
