#!/bin/bash
# The crash sweep (crash_sweep.sh) for request.
exec bash "$(dirname "$0")/crash_sweep.sh" request
