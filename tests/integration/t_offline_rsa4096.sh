#!/bin/bash
exec bash "$(dirname "$0")/offline_path.sh" rsa:4096
