/** @iip/cli — the `iip` command line: `up`, `simulate`, `device`, `asset`, `user`, `role`, `tenant`, `audit`, … */
export { main } from './main.js';
