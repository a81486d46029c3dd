# Sourced by the run scripts: on machines without internet, point scikit-learn at the
# shared cache of California Housing when that folder exists (users with internet
# need nothing).
_shared_data="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/data/scikit_learn_data"
if [ -z "${SCIKIT_LEARN_DATA:-}" ] && [ -d "$_shared_data" ]; then
    export SCIKIT_LEARN_DATA="$(cd "$_shared_data" && pwd)"
fi
