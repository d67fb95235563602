#!/bin/bash
exec bash "$(dirname "$0")/module_path.sh" softhsm2
