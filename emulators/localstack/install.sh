#!/usr/bin/env bash
# Installs LocalStack 4.14.0 to run in host mode (a plain process, no Docker) with SNS, SQS and
# DynamoDB, from PyPI and Maven Central only: `make localstack` calls it.
#
#   install.sh DEST      DEST (the Makefile's .venv-localstack) receives
#     DEST/venv/                         Python 3.13 venv: localstack-core and awscli, from requirements.lock
#     DEST/root/usr/lib/localstack/      what LocalStack looks for under its FILESYSTEM_ROOT:
#       java/21 -> a local JDK 17+         (its "Java 21"; DynamoDB Local 2.x needs 17 or newer)
#       dynamodb-local/2/                  DynamoDB Local 2.6.1 from Maven Central (pom.xml)
#
# Without these files LocalStack downloads its own Java and DynamoDB Local from GitHub and
# CloudFront at the first DynamoDB call, which CI and these machines cannot reach.
# The Go starter (internal/devstack/emulator, StartLocalStack) points each run's scratch FILESYSTEM_ROOT
# at DEST/root/usr/lib/localstack.
#
# Needs: Python 3.13 (PYTHON313, else python3.13 on PATH), a JDK 17+ (JAVA_HOME, else javac on
# PATH) and Maven. Idempotent: each half keeps a fingerprint of its inputs and is redone only
# when they change; a run with nothing to do takes well under a second.
set -euo pipefail

die() { echo "localstack install: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
[[ $# -eq 1 ]] || die "usage: $0 DEST"
dest=$(realpath -m "$1")
venv=$dest/venv
libs=$dest/root/usr/lib/localstack

# --- what is needed, found or named when missing

# LocalStack 4.14 uses 3.12-only syntax, and requirements.lock was compiled for 3.13. The first
# candidate that runs and is 3.13 wins (a pyenv shim for a version not selected does not run).
python=
for candidate in "${PYTHON313:-}" python3.13; do
  [[ -n $candidate ]] || continue
  if [[ $("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) == 3.13 ]]; then
    python=$(command -v "$candidate")
    break
  fi
done
[[ -n $python ]] || die "Python 3.13 not found: tried PYTHON313='${PYTHON313:-}' and python3.13 on PATH; install it (pyenv install 3.13.0, or apt-get install python3.13) and pass PYTHON313=/path/to/python3.13"
pyver=3.13

java_home=${JAVA_HOME:-}
if [[ -z $java_home ]] && javac=$(command -v javac); then
  java_home=$(dirname "$(dirname "$(readlink -f "$javac")")")
fi
[[ -n $java_home && -x $java_home/bin/java && -x $java_home/bin/javac && -x $java_home/bin/jar ]] ||
  die "a JDK 17 or newer (java, javac, jar) is needed for DynamoDB Local: set JAVA_HOME, or on Debian apt-get install openjdk-17-jdk-headless"
javaver=$("$java_home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
[[ ${javaver%%.*} -ge 17 ]] 2>/dev/null || die "$java_home is Java ${javaver:-?}; DynamoDB Local 2.x needs 17 or newer"
command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch DynamoDB Local from Maven Central: on Debian apt-get install maven"
# pom.xml brings sqlite4java's native library for linux x86_64 only.
[[ $(uname -s)/$(uname -m) == Linux/x86_64 ]] || die "only linux x86_64 is supported (sqlite4java's native library in pom.xml); this is $(uname -s)/$(uname -m)"

mkdir -p "$dest"
fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }
venv_want=$(echo "python $pyver" | fingerprint - "$here/requirements.lock")
libs_want=$(echo "java $java_home" | fingerprint - "$here/pom.xml" "$here/NoopAgent.java" "$here/log4j2.xml")

# --- the Python half: a fresh venv whenever the lock changes, so no stale package survives

if [[ $(cat "$venv/.lock-fingerprint" 2>/dev/null) != "$venv_want" ]]; then
  echo "localstack install: venv $venv with $python (Python $pyver)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # --no-deps: exactly the lock, nothing resolved beyond it; pip check proves it complete.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.lock"
  "$venv/bin/pip" check --disable-pip-version-check >/dev/null
  echo "$venv_want" >"$venv/.lock-fingerprint"
fi

# --- the Java half: Java and DynamoDB Local where LocalStack looks, built aside and swapped in

if [[ $(cat "$libs/.fingerprint" 2>/dev/null) != "$libs_want" ]]; then
  echo "localstack install: DynamoDB Local 2.6.1 and Java ($java_home) into $libs"
  build=$(mktemp -d "$dest/build.XXXXXX")
  trap 'rm -rf "$build"' EXIT
  new=$build/localstack
  ddb=$new/dynamodb-local/2
  mkdir -p "$new/java" "$ddb/DynamoDBLocal_lib" "$build/mvn"

  # LocalStack's marker for its Java 21 is java/21/bin/java; any JDK 17+ serves.
  ln -s "$java_home" "$new/java/21"

  # The jars and the native library, at the versions pom.xml names (the plugin pinned too).
  cp "$here/pom.xml" "$build/mvn/pom.xml"
  (cd "$build/mvn" && mvn -q -B -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DoutputDirectory=lib)
  cp "$build/mvn/lib/DynamoDBLocal-2.6.1.jar" "$ddb/DynamoDBLocal.jar"
  find "$build/mvn/lib" -name '*.jar' ! -name 'DynamoDBLocal-2.6.1.jar' -exec cp {} "$ddb/DynamoDBLocal_lib/" \;
  # LocalStack starts it with -Djava.library.path=DynamoDBLocal_lib, where sqlite4java looks
  # for this exact name.
  cp "$build/mvn/lib/libsqlite4java-linux-amd64-1.0.392.so" "$ddb/DynamoDBLocal_lib/libsqlite4java-linux-amd64.so"

  # The jar's manifest lists the file names of AWS's zip distribution; point its Class-Path at
  # Maven's names instead ("." first, so log4j2.xml beside the jar is found). Manifest lines
  # are at most 72 bytes, continued with a leading space.
  {
    echo "Class-Path: . $(cd "$ddb" && ls DynamoDBLocal_lib/*.jar | tr '\n' ' ')" | fold -w 70 | sed '2,$s/^/ /'
  } >"$build/manifest.txt"
  "$java_home/bin/jar" --update --file "$ddb/DynamoDBLocal.jar" --manifest "$build/manifest.txt"
  cp "$here/log4j2.xml" "$ddb/log4j2.xml"

  # The -javaagent LocalStack passes, replaced by one that does nothing (see NoopAgent.java).
  mkdir -p "$build/agent"
  "$java_home/bin/javac" -d "$build/agent" "$here/NoopAgent.java"
  printf 'Premain-Class: NoopAgent\n' >"$build/agent.mf"
  "$java_home/bin/jar" --create --file "$ddb/ddb-local-loader-0.1.jar" --manifest "$build/agent.mf" -C "$build/agent" .

  echo "$libs_want" >"$new/.fingerprint"
  rm -rf "$libs"
  mkdir -p "$(dirname "$libs")"
  mv "$new" "$libs"
fi

echo "localstack install: up to date in $dest"
