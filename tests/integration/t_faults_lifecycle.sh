#!/bin/bash
# The token fault matrix (token_faults.sh) for: assign refresh pin.
exec bash "$(dirname "$0")/token_faults.sh" assign refresh pin
