import { defineErrors } from '@iip/core';

export const CLI_ERRORS = defineErrors({
  IIP_ERR_CLI_USAGE: {
    status: 400,
    meaning: 'The command line has an unknown command, flag or a bad flag value.',
    fix: 'Run `iip --help` or `iip <command> --help`.',
  },
  IIP_ERR_CLI_UNREACHABLE: {
    status: 503,
    meaning: 'The CLI cannot reach the platform API.',
    fix: 'Start the platform (`npm start` or `iip up`) or point the CLI at it with --url / IIP_URL.',
  },
});
