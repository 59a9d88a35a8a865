#!/usr/bin/env bash
# Renders the held-out clips for the learned-depth evaluation (issue 14) with ../shared/tools/synth.
# Motions: Bandai Namco BVH and Quaternius actions, none of which is in the CMU training data; views,
# heights, pitches and image shapes differ from the 13 dev clips. Short and small because rendering
# is CPU-heavy: the first five 2.5 s at 480x360 and 30 fps, the rest 2 s at 320x240 and 24 fps
# (rendered on a shared, heavily loaded 2-core machine). Usage: benchmarks/render_heldout.sh OUT_DIR [PYTHON]
# (PYTHON: a Python 3.11 with bpy 5.0.1, e.g. the project's .venv; an `ffmpeg` on PATH).
# A second runner (REVERSE=1 ... same OUT_DIR) may work from the other end of the list.
set -euo pipefail
OUT=${1:?usage: render_heldout.sh OUT_DIR [PYTHON]}
PY=${2:-.venv/bin/python}
S=$(cd "$(dirname "$0")/../../shared/tools/synth" && pwd)
BN=bandai_namco
REVERSE=${REVERSE:-0}  # REVERSE=1: a second runner working from the end of the list (both skip taken clips)
CLIPS=()
render() {  # name, then render.py options: queued, rendered by run_all
    CLIPS+=("$(printf '%q ' "$@")")
}
run_one() {
    local name=$1; shift
    [ -f "$OUT/$name.gt.npz" ] && return 0
    mkdir "$OUT/.taken-$name" 2>/dev/null || return 0  # another runner has it
    "$PY" "$S/render.py" --name "$name" --out "$OUT" "$@" || echo "render_heldout: $name failed" >&2
}
run_all() {
    local i n=${#CLIPS[@]}
    for ((i = 0; i < n; i++)); do
        local k=$i
        [ "$REVERSE" = 1 ] && k=$((n - 1 - i))
        eval "run_one ${CLIPS[$k]}"
    done
}
B="--size 480x360 --seconds 2.5"
render ho_bow_mq_side          $B --bvh $BN/dataset-1_bow_normal_001.bvh --start 0.5 --view side
render ho_bye_adv_m60          $B --bvh $BN/dataset-1_bye_normal_001.bvh --skin Adventurer --start 0.5 --view -60
render ho_call_mq_back45       $B --bvh $BN/dataset-1_call_normal_001.bvh --start 0.5 --view 135
render ho_dash_scifi_30        $B --bvh $BN/dataset-1_dash_childish_001.bvh --skin SciFi --start 0 --view 30
render ho_guide_mq_front_low   $B --bvh $BN/dataset-1_guide_normal_001.bvh --start 0.5 --view front --cam-height 0.9
B="--size 320x240 --seconds 2 --fps 24"
render ho_respond_adv_120      $B --bvh $BN/dataset-1_respond_normal_001.bvh --skin Adventurer --start 0.5 --view 120
render ho_slash_mq_m30_pitch30 $B --bvh $BN/dataset-1_slash_normal_001.bvh --start 0.5 --view -30 --pitch 30
render ho_walkright_mq_front   $B --bvh $BN/dataset-1_walk-right_normal_001.bvh --start 1 --view front
render ho_walkleft_scifi_45    $B --bvh $BN/dataset-1_walk-left_normal_001.bvh --skin SciFi --start 1 --view 45
render ho_walkhappy_mq_rside   $B --bvh $BN/dataset-1_walk_happy_001.bvh --start 1 --view rside
render ho_walkold_adv_back     $B --bvh $BN/dataset-1_walk_old_001.bvh --skin Adventurer --start 1 --view back
render ho_walkproud_mq_60_port --size 240x320 --seconds 2 --fps 24 --bvh $BN/dataset-1_walk_proud_001.bvh --start 1 --view 60
render ho_walktired_mq_m135    $B --bvh $BN/dataset-1_walk_tired_001.bvh --start 1 --view -135
render ho_raise_mq_front_port  --size 240x320 --seconds 2 --fps 24 --bvh $BN/dataset-2_raise-up-both-hands_normal_001.bvh --start 0 --view front
render ho_runex_scifi_m45      $B --bvh $BN/dataset-2_run_exhausted_001.bvh --skin SciFi --start 0.5 --view -45
render ho_turnleft_mq_20       $B --bvh $BN/dataset-2_walk-turn-left_normal_001.bvh --start 1 --view 20
render ho_wave2_adv_m20_high   $B --bvh $BN/dataset-2_wave-both-hands_active_001.bvh --skin Adventurer --start 0.5 --view -20 --cam-height 2.2
render ho_dance_mq_m100        $B --bvh $BN/dataset-1_dance-short_normal_001.bvh --start 30 --view -100
render ho_punch1_scifi_160     $B --bvh $BN/dataset-1_punch_normal_001.bvh --skin SciFi --start 0.5 --view 160
render ho_adv_roll_front       $B --char Adventurer --action Roll --view front
render ho_scifi_sword_m60      $B --char SciFi --action Sword_Slash --view -60
render ho_adv_hit_side         $B --char Adventurer --action HitRecieve --view side
render ho_scifi_interact_30    $B --char SciFi --action Interact --view 30
render ho_walkyouth_mq_front15 $B --bvh $BN/dataset-2_walk_youthful_001.bvh --start 1 --view front --pitch 15
run_all
