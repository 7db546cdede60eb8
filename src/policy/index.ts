/* Policy files on disk: loading, watching, `airlock policy check` and `airlock policy explain`. */
export {
  PolicyStore,
  type PolicyStoreOptions,
  type PolicyFileInfo,
  type PolicyStoreEvents,
} from './policy-store.js';
export { checkPolicyDir, checkPolicyDirReport, formatIssues, type PolicyCheckReport } from './check.js';
export {
  explainCall,
  formatExplanation,
  ANONYMOUS_AGENT,
  type Explanation,
  type PolicySource,
} from './explain.js';
export { POLICY_EXTENSIONS, serverOfFileName } from './policy-files.js';
