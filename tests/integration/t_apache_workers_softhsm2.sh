#!/bin/bash
exec bash "$(dirname "$0")/web_workers.sh" apache softhsm2
