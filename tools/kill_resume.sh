#!/usr/bin/env bash
# Kill-and-resume check with more kills than CI makes: both trainers (two-stage localization,
# separation) are run as child processes, killed with SIGKILL at random moments (inside steps
# and while checkpoints are written), restarted until they finish, and compared with an
# uninterrupted run (identical final weights and losses; `latest` always names a complete
# checkpoint). CI runs the same test with 4 kills per trainer.
#
#   bash tools/kill_resume.sh [KILLS]        # default 25 kills per trainer
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS="${1:-25}"
AV_KILL_RESUME_KILLS="$KILLS" cargo test -p av-experiments --test integration kill_resume:: -- --test-threads 1
