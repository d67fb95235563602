#!/bin/bash
# The token fault matrix (token_faults.sh) for online requests (pebble).
exec bash "$(dirname "$0")/token_faults.sh" acme
