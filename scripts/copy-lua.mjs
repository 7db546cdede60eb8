// tsc emits JavaScript only; the Lua scripts must sit beside their loader in dist/ as they do in src/.
import { cpSync, rmSync } from 'node:fs';

rmSync('dist/redis/scripts', { recursive: true, force: true });
cpSync('src/redis/scripts', 'dist/redis/scripts', { recursive: true });
