"""Port: the command line. One module per subcommand, each exposing register(subparsers);
summary.py is the end-of-run summary, input_checks.py and interrupt.py the checks and the Ctrl-C
handling the commands share."""
