#!/bin/bash
exec bash "$(dirname "$0")/offline_path.sh" ec:P-384
