"""Activities: every OpenAI API call (one class per backend) and tool execution."""
