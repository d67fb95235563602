#!/bin/bash
exec bash "$(dirname "$0")/nginx_workers.sh" softhsm2
