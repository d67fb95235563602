#!/bin/bash
# The token fault matrix (token_faults.sh) for: request.
exec bash "$(dirname "$0")/token_faults.sh" request
