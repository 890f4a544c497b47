#!/usr/bin/env bash
# Train what the guidance matrix needs and run its sweeps, for one property at a time.
# Usage: bash scripts/guidance_matrix.sh [ring|qed] [models|cheap|exact|all]
#   models: UDLM, AR (and for qed the MDLM) models with the default recipe, plus masked- and
#           uniform-noise classifiers. Each export is copied to checkpoints/<name>, where the
#           sweep configs read it; a model already there is skipped (delete the folder to
#           retrain it), and a stopped training resumes from its last checkpoint.
#   cheap:  the D-CFG and first-order D-CBG sweeps (1,024 molecules)
#   exact:  the exact D-CBG sweeps (256 molecules on CPU)
# Every step can be stopped and rerun: trainings resume, sweeps skip finished rows.
set -euo pipefail
cd "$(dirname "$0")/.."
prop=${1:-ring}
part=${2:-all}
BIN=${BIN:-.venv/bin}
case $prop in
  ring) property=ring_count; suffix=cfg; classifier=qm9-ring-classifier ;;
  qed) property=qed; suffix=qed; classifier=qm9-qed-classifier ;;
  *) echo "invalid property '$prop': use ring or qed" >&2; exit 2 ;;
esac
case $part in
  models|cheap|exact|all) ;;
  *) echo "invalid part '$part': use models, cheap, exact or all" >&2; exit 2 ;;
esac

# train NAME ARGS...: run `molremdm train` (or train-classifier) once, resuming if stopped,
# and copy the exported model to checkpoints/NAME
train() {
  local command=$1 name=$2
  shift 2
  local folder=runs/$name shipped=checkpoints/$name
  if [[ -f $shipped/model.safetensors ]]; then
    echo "$name: $shipped exists, skipped"
    return
  fi
  local resume=()
  if [[ -f $folder/checkpoints/last.ckpt ]]; then
    resume=(--resume "$folder/checkpoints/last.ckpt")
  fi
  "$BIN/molremdm" "$command" --property "$property" --name "$name" "$@" "${resume[@]}"
  mkdir -p "$shipped"
  cp "$folder/model/config.json" "$shipped/config.json"
  # the weights last, so a copy cut short is redone on the next run
  cp "$folder/model/model.safetensors" "$shipped/model.safetensors.partial"
  mv "$shipped/model.safetensors.partial" "$shipped/model.safetensors"
}

if [[ $part == models || $part == all ]]; then
  if [[ $prop == qed ]]; then
    train train qm9-mdlm-qed --model mdlm
  fi
  train train "qm9-udlm-$suffix" --model udlm
  train train "qm9-ar-$suffix" --model ar
  train train-classifier "$classifier" --process masked
  train train-classifier "$classifier-uniform" --process uniform
fi

if [[ $part == cheap || $part == all ]]; then
  for kind in masked udlm ar; do
    "$BIN/molremdm" sweep --config "configs/sweep/qm9_${prop}_guidance_$kind.yaml" --no-progress
  done
fi

if [[ $part == exact || $part == all ]]; then
  for kind in masked udlm; do
    "$BIN/molremdm" sweep --config "configs/sweep/qm9_${prop}_guidance_${kind}_exact.yaml" \
      --no-progress
  done
fi
