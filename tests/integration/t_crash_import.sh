#!/bin/bash
# The crash sweep (crash_sweep.sh) for import.
exec bash "$(dirname "$0")/crash_sweep.sh" import
