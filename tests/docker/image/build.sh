#!/usr/bin/env bash
# Build the tests' Lambda image: the official images' contract (/lambda-entrypoint.sh runs
# /var/runtime/bootstrap against AWS_LAMBDA_RUNTIME_API; the bootstrap runs awslambdaric on
# $_HANDLER; LAMBDA_TASK_ROOT=/var/task) on a minimal Debian rootfs, since no registry that holds
# public.ecr.aws/lambda/* is reachable where the tests run. Built once: the rootfs tarball is cached
# outside the repository, keyed by this folder's content, and the image is imported only when the
# engine does not have it yet. Needs root, debootstrap, docker, and python3 -m pip (for the wheels).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tag=${SAMRUN_TEST_IMAGE:-samrun-test/python:3.11}
cache=${SAMRUN_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/samrun/test-image}
suite=${DEBIAN_SUITE:-bookworm}  # its python3 is 3.11, the tag's version
# The Debian mirror apt is set up with on this machine (deb822 or one-line sources)
apt_mirror() {
  local uris
  uris=$({ grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources || true
           grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list || true
         } | awk '{print $2}' | grep -v -- '-security' || true)
  printf '%s\n' "${uris%%$'\n'*}"
}
mirror=${DEBIAN_MIRROR:-$(apt_mirror)}
python=${PYTHON:-python3}

if docker image inspect "$tag" >/dev/null 2>&1 && [ -z "${REBUILD:-}" ]; then
  echo "$tag: already in the engine"
  exit 0
fi

key=$(cat "$here"/build.sh "$here"/lambda-entrypoint.sh "$here"/bootstrap | sha256sum | cut -c1-12)
arch=$(uname -m)
tarball="$cache/rootfs-$suite-$arch-$key.tar"
mkdir -p "$cache"
if [ ! -f "$tarball" ]; then
  root=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap $suite into $root (once; cached as $tarball)"
  [ -n "$mirror" ] || { echo "no Debian mirror in apt's sources: set DEBIAN_MIRROR" >&2; exit 1; }
  debootstrap --variant=minbase --include=python3 "$suite" "$root" "$mirror" >"$cache/debootstrap.log"
  # The runtime interface client and the AWS SDK, as the official images carry them in /var/runtime.
  "$python" -m pip install --quiet --no-compile --target "$root/var/runtime" \
    --only-binary=:all: --implementation cp --python-version 3.11 \
    --platform "manylinux2014_$arch" --platform "manylinux_2_17_$arch" \
    --platform "manylinux_2_28_$arch" awslambdaric boto3
  install -m 0755 "$here/lambda-entrypoint.sh" "$root/lambda-entrypoint.sh"
  install -m 0755 "$here/bootstrap" "$root/var/runtime/bootstrap"
  mkdir -p "$root/var/task" "$root/opt" "$root/var/lang/bin"
  ln -sf /usr/bin/python3 "$root/var/lang/bin/python3"
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc \
    "$root"/usr/share/man "$root"/usr/share/locale "$root"/var/log/*
  tar --numeric-owner -C "$root" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi

docker import \
  --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
  --change 'WORKDIR /var/task' \
  --change 'ENV LANG=en_US.UTF-8' \
  --change 'ENV TZ=:/etc/localtime' \
  --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
  --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
  --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
  --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
  "$tarball" "$tag" >/dev/null
echo "$tag: imported from $tarball"
