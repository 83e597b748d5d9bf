"""python -m autopilot: the same as the ``autopilot`` command."""

from autopilot import main

main()
