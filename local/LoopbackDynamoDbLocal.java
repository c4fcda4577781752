import java.lang.reflect.Field;
import java.util.Set;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local for Parley's local stack (local/dynamodb-local.ts): the jar's own server, with
 * its Jetty connector bound to 127.0.0.1 instead of every interface (the jar has no option for it),
 * and requests refused unless they name a loopback host (a web page that rebinds its DNS name to
 * 127.0.0.1 sends its own name). Takes the jar's command-line options.
 */
public class LoopbackDynamoDbLocal {
  private static final String LOOPBACK = "127.0.0.1";
  private static final Set<String> LOOPBACK_NAMES = Set.of("127.0.0.1", "localhost", "[::1]", "::1");

  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field serverField = DynamoDBProxyServer.class.getDeclaredField("server");
    serverField.setAccessible(true);
    Server jetty = (Server) serverField.get(proxy);
    for (Connector connector : jetty.getConnectors()) {
      ((ServerConnector) connector).setHost(LOOPBACK);
    }
    jetty.setHandler(new Handler.Wrapper(jetty.getHandler()) {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        String host = Request.getServerName(request);
        if (host == null || !LOOPBACK_NAMES.contains(host)) {
          Response.writeError(request, response, callback, 403, "DynamoDB Local answers loopback hosts only");
          return true;
        }
        return super.handle(request, response, callback);
      }
    });
    proxy.start();
  }
}
