import { defineErrors } from '@iip/core';

export const SERVER_ERRORS = defineErrors({
  IIP_ERR_CSV_INVALID: {
    status: 400,
    meaning: 'A CSV upload is malformed (unterminated quote, missing required column, wrong number of fields).',
    fix: 'Fix the row and column named in details; the first line must be a header with at least id and product.',
  },
  IIP_ERR_DATA_DIR: {
    status: 500,
    meaning: 'The data directory cannot be created or written.',
    fix: 'Choose a writable directory with --data <dir> or IIP_DATA_DIR=<dir>.',
  },
});
