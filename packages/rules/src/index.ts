/** @iip/rules — see package.json. */
