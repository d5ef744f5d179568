import { defineErrors } from '@iip/core';

export const SERVER_ERRORS = defineErrors({
  IIP_ERR_DATA_DIR: {
    status: 500,
    meaning: 'The data directory cannot be created or written.',
    fix: 'Choose a writable directory with --data <dir> or IIP_DATA_DIR=<dir>.',
  },
});
