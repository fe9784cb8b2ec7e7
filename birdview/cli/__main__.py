import sys

from birdview.cli import main

sys.exit(main())
