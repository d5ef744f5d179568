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
});
