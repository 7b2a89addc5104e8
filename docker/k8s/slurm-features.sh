#!/usr/bin/env bash
# VGG19 features of an image collection as a Slurm job array: task i of N runs
# `vggnb features --dataset ... --shard i/N` (vggnb reads SLURM_ARRAY_TASK_ID
# and SLURM_ARRAY_TASK_COUNT; the array's IDs must start at 0). Each task
# writes its own part file, whole or not at all; resubmitting the array skips
# the parts already complete and verified.
#
#   sbatch docker/k8s/slurm-features.sh /shared/images /shared/features
#
#SBATCH --job-name=vggnb-features
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=12:00:00
set -euo pipefail
images=${1:?images directory}
out=${2:?output directory}
exec vggnb features --model=vgg19 --weights=auto --layer=block5_pool --pooling=avg \
  --size=224x224 --batch=8 --dataset="$images" --out="$out"
