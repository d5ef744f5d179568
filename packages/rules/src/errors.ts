import { defineErrors } from '@iip/core';

export const RULE_ERRORS = defineErrors({
  IIP_ERR_RULE_INVALID: {
    status: 400,
    meaning: 'A rule document breaks the rule format (details.rule names the rule, details.field the field).',
    fix: 'Correct the field as the message says; docs/reference/rules.md describes the format.',
  },
  IIP_ERR_RULE_EXPRESSION: {
    status: 400,
    meaning: "A rule's expression is not valid CEL (details.position is where the parser stopped).",
    fix: 'Correct the expression; CEL is described in docs/reference/rules.md (numbers with a decimal point in arithmetic with measured values, e.g. `temperature + 1.0`).',
  },
  IIP_ERR_RULE_UNKNOWN_PROPERTY: {
    status: 422,
    meaning: "A rule names a property that is not in the thing model of the product it applies to (details.property).",
    fix: "Use a property of the product's thing model, or add it to the model first.",
  },
  IIP_ERR_RULE_TYPE: {
    status: 422,
    meaning: "A rule compares or computes values of types that do not go together (a string with a number, a threshold on a non-numeric property), or its condition is not true/false.",
    fix: 'Compare numbers with numbers and strings with strings; a condition must be a comparison or a true/false expression.',
  },
  IIP_ERR_RULE_READ_ONLY: {
    status: 422,
    meaning: "A rule's write action names a property the thing model marks read-only (access \"r\"); details.field names the action.",
    fix: 'Write only properties with access "rw", or invoke a service of the device instead.',
  },
  IIP_ERR_RULE_LOOP: {
    status: 422,
    meaning: "Rules would write each other's inputs in a loop: a write action sets a property that a rule of the same product (itself included) reads, and so on back to the first (details.cycle lists the rules).",
    fix: 'Break the loop: write a property no rule in the cycle reads, or merge the rules into one.',
  },
  IIP_ERR_RULE_ACTION_UNAVAILABLE: {
    status: 422,
    meaning: 'A rule asks for an action this platform is not set up to carry out (an e-mail without an SMTP server configured).',
    fix: 'Configure the SMTP server (IIP_SMTP_URL, IIP_SMTP_FROM; docs/reference/rules.md "Actions") or remove the action.',
  },
  IIP_ERR_ACTION_HTTP_STATUS: {
    status: 502,
    meaning: 'A webhook action was answered with a status other than 2xx (details: status). 408, 429 and 5xx are retried; other 4xx are given up at once.',
    fix: "Check the receiver's log for why it refused; once fixed, retry the dead-lettered delivery (POST /api/v1/rule-actions/{id}/retry).",
  },
  IIP_ERR_ACTION_NETWORK: {
    status: 502,
    meaning: 'A webhook or e-mail action could not reach its server (refused, reset, DNS, timed out); retried with backoff.',
    fix: 'Check the address and that the platform can reach it; the delivery is retried, then dead-lettered for a manual retry.',
  },
  IIP_ERR_ACTION_SMTP: {
    status: 502,
    meaning: 'The SMTP server refused an e-mail action (details: response). 4xx answers are retried; 5xx are given up at once.',
    fix: "Check the recipients and the SMTP server's answer in lastError; retry the dead-lettered delivery once fixed.",
  },
  IIP_ERR_ACTION_COMMAND: {
    status: 502,
    meaning: "A rule's write or service call was not carried out by the device (refused, expired, no gateway); details.cause is the command's own code.",
    fix: 'See the cause (e.g. IIP_ERR_COMMAND_FAILED); the command is in the audit log with the rule as its actor.',
  },
  IIP_ERR_ACTION_GAVE_UP: {
    status: 502,
    meaning: 'A rule action failed on every attempt and was dead-lettered (lastError says the last failure).',
    fix: 'Fix the cause, then retry it: POST /api/v1/rule-actions/{id}/retry, or the Actions tab of the Rules page.',
  },
  IIP_ERR_RULE_NOT_AT_EDGE: {
    status: 422,
    meaning: "A gateway reported a raise or clear of a rule that is not an edge rule (runAt \"edge\") covering that device (deleted, moved to the platform, or another product).",
    fix: 'Nothing to do when the rule was just changed: the platform pushes the gateway its current edge rules. Otherwise check the rule\'s runAt and scope.',
  },
});
