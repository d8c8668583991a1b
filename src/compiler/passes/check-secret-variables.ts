// The variable a secret's placeholder is written into (`env NAME`) is a shell variable name that no
// other secret and none of proxy.env's own variables use: two values for one variable would hand
// a tool the wrong placeholder, or take away the proxy settings.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { findOption, secrets, type CheckContext } from '../check-context.ts';

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** What proxy.env sets itself (src/compiler/emit/proxy-env.ts), and the CA variables it adds. */
const RESERVED = new Set(['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'NODE_USE_ENV_PROXY', 'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE']);

export function checkSecretVariables({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const first = new Map<string, { name: string; line: number }>();
  for (const secret of secrets(ast)) {
    const variable = findOption(secret, 'env')?.value;
    if (!variable) continue;
    if (!VARIABLE.test(variable.value)) {
      out.push(errorAt(ast.file, variable.span, {
        code: 'NP298',
        message: `"${variable.value}" is not an environment variable name.`,
        hint: 'Use letters, digits and "_", not starting with a digit, as in "ANTHROPIC_API_KEY".',
      }));
      continue;
    }
    // Case folded: launchctl and most shells keep case, but Windows-minded tools and curl's
    // lowercase twins do not; one spelling per placeholder.
    const key = variable.value.toUpperCase();
    if (RESERVED.has(key)) {
      out.push(errorAt(ast.file, variable.span, {
        code: 'NP299',
        message: `proxy.env sets "${variable.value}" itself; a placeholder there would replace it.`,
        hint: 'Name the variable the tool reads the credential from, as in "ANTHROPIC_API_KEY".',
      }));
      continue;
    }
    const earlier = first.get(key);
    if (earlier) {
      out.push(errorAt(ast.file, variable.span, {
        code: 'NP299',
        message: `The variable "${variable.value}" already holds the placeholder of the secret "${earlier.name}" on line ${earlier.line}.`,
        hint: 'Give each secret a variable of its own.',
      }));
      continue;
    }
    first.set(key, { name: secret.name.value, line: secret.span.line });
  }
  return out;
}
