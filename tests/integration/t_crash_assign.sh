#!/bin/bash
# The crash sweep (crash_sweep.sh) for assign.
exec bash "$(dirname "$0")/crash_sweep.sh" assign
