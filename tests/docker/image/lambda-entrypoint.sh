#!/bin/sh
# As in the official Lambda base images: the handler is the only argument; the runtime talks to
# AWS_LAMBDA_RUNTIME_API (these test images carry no emulator, so it must be set).
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  echo "AWS_LAMBDA_RUNTIME_API is not set and this image has no runtime interface emulator" 1>&2
  exit 142
fi
exec $RUNTIME_ENTRYPOINT
