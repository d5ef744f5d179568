/** @iip/cli — the `iip` command line: `up`, `simulate`, `device create|list`. */
export { main } from './main.js';
