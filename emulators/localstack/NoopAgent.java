// LocalStack starts DynamoDB Local with -javaagent:ddb-local-loader-0.1.jar, an agent it downloads
// from GitHub that only lifts DynamoDB Local's limit of 20 global secondary indexes per table. Our
// tables have at most one, so install.sh builds this agent, which does nothing, in its place.
public class NoopAgent {
    public static void premain(String args, java.lang.instrument.Instrumentation inst) {}
}
