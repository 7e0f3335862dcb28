// Builds the cgroup connect program of `block` rules (bpf/kblock → build/kblock/kblock-loader) ahead of
// first use, from the built CLI (run `npm run build` first). `run` builds it lazily otherwise.
import { ensureKernelBlockLoader } from '../dist/src/sources/kernel-block/index.js';

const loader = await ensureKernelBlockLoader({ install: false, announce: (m) => console.log(m) });
console.log(`kblock loader: ${loader}`);
