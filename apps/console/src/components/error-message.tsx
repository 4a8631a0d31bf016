import { AdminApiError } from "../admin-api-error";

/** An API error in words: the gateway's message, then each refused field. Nothing when there is no error. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const message =
    error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error);
  const problems = AdminApiError.isInstance(error) ? error.problems : [];
  return (
    <div className="error-message" role="alert">
      {problems.length > 0 ? (
        <ul>
          {problems.map((problem, index) => (
            <li key={index}>
              <strong>{problem.field}</strong>: {problem.message}
            </li>
          ))}
        </ul>
      ) : (
        <p>{message}</p>
      )}
    </div>
  );
}
