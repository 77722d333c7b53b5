# frozen_string_literal: true

# samrun's Ruby runtime: the Lambda Runtime API client, standard library only.
#
# It behaves as Lambda's Ruby runtime (aws_lambda_ric) does: handlers `file.method` and
# `file.Module::Class.method` called with `event:` and `context:`, the event as parsed JSON, the
# same context object, errors as `{"errorMessage", "errorType": "Function<Class>", "stackTrace"}`
# (`Init<Class>` for the init phase, sent to /init/error). It runs on any Ruby 2.7+, so each
# ruby3.X runtime can use the interpreter the machine has.

# Each line reaches samrun (and the function's log) as it is written.
$stdout.sync = true
$stderr.sync = true

require 'json'
require 'socket'

module SamrunRuntime
  API = '/2018-06-01/runtime'
  OWN_FILE = File.expand_path(__FILE__)

  # One keep-alive HTTP/1.1 connection to the Runtime API. A few lines over a socket, as the
  # official runtimes' native clients are: `require "net/http"` alone cost a cold start ~45 ms.
  class Client
    Response = Struct.new(:code, :headers, :body) do
      def [](name)
        headers[name.downcase]
      end
    end

    def initialize(address)
      host, _, port = address.rpartition(':')
      @host = address
      @socket = TCPSocket.new(host, Integer(port))
      @socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
    end

    def next_event
      response = request('GET', '/invocation/next')
      raise "the Runtime API answered #{response.code} to next" unless response.code == 200

      response
    end

    def post(path, body, error_type = nil, content_type = 'application/json')
      headers = { 'Content-Type' => content_type }
      headers['Lambda-Runtime-Function-Error-Type'] = error_type if error_type
      request('POST', path, body, headers)
    end

    private

    def request(method, path, body = '', headers = {})
      body = body.b
      head = +"#{method} #{API}#{path} HTTP/1.1\r\nHost: #{@host}\r\n"
      head << "Content-Length: #{body.bytesize}\r\n"
      headers.each { |name, value| head << "#{name}: #{value}\r\n" }
      @socket.write(head << "\r\n", body)
      read_response
    end

    def read_response
      status = line.split(' ', 3)[1].to_i
      headers = {}
      until (text = line).empty?
        name, _, value = text.partition(':')
        headers[name.strip.downcase] = value.strip
      end
      Response.new(status, headers, read_body(headers))
    end

    def read_body(headers)
      return exactly(headers.fetch('content-length', '0').to_i) unless
        headers['transfer-encoding'].to_s.downcase == 'chunked'

      body = String.new # (binary, as each chunk)
      while (size = line.to_i(16)).positive?
        body << exactly(size)
        line
      end
      loop { break if line.empty? } # the trailer, then the blank line that ends it
      body
    end

    def line
      text = @socket.gets("\r\n") or raise EOFError, 'the Runtime API closed the connection'
      text.chomp("\r\n")
    end

    def exactly(size)
      size.zero? ? +'' : @socket.read(size).to_s
    end
  end

  # The `context` argument, with the methods Lambda's Ruby runtime gives it.
  class LambdaContext
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name,
                :function_name, :memory_limit_in_mb, :function_version, :identity,
                :client_context, :deadline_ms

    def initialize(response)
      @deadline_ms = response['Lambda-Runtime-Deadline-Ms'].to_i
      @aws_request_id = response['Lambda-Runtime-Aws-Request-Id']
      @invoked_function_arn = response['Lambda-Runtime-Invoked-Function-Arn']
      @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
      @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
      @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
      @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
      identity = response['Lambda-Runtime-Cognito-Identity']
      @identity = JSON.parse(identity) if identity && !identity.empty?
      client_context = response['Lambda-Runtime-Client-Context']
      @client_context = JSON.parse(client_context) if client_context && !client_context.empty?
    end

    def get_remaining_time_in_millis # rubocop:disable Naming/AccessorMethodName (Lambda's name)
      remaining = @deadline_ms - Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
      remaining.positive? ? remaining : 0
    end
  end

  # `file.method` or `file.Module::Class.method`, as Lambda splits `_HANDLER`.
  class Handler
    attr_reader :file

    def initialize(spec)
      parts = spec.split('.')
      case parts.size
      when 2 then @file, @method = parts
      when 3 then @file, @owner, @method = parts
      else
        raise ArgumentError, "Invalid handler #{parts}, must be of form FILENAME.METHOD or " \
                             'FILENAME.CLASS.METHOD where FILENAME corresponds with an existing ' \
                             'Ruby source file FILENAME.rb, CLASS is an optional module/class ' \
                             'namespace and METHOD is a callable method. If using CLASS, METHOD ' \
                             'must be a class-level method.'
      end
    end

    def call(event, context)
      receiver = @owner ? Kernel.const_get(@owner) : TOPLEVEL_BINDING.receiver
      receiver.__send__(@method, event: event, context: context)
    end
  end

  # An exception as Lambda's Ruby runtime reports it.
  def self.error_body(error, phase)
    trace = (error.backtrace || []).take_while { |line| !line.start_with?(OWN_FILE) }
    { errorMessage: error.message, errorType: "#{phase}<#{error.class}>", stackTrace: trace.first(100) }
  end

  def self.log_error(body, message)
    puts message
    puts JSON.pretty_generate(body)
  end

  # The response payload: an IO's bytes as they are, anything else as JSON.
  def self.payload(result)
    if result.is_a?(IO) || (defined?(StringIO) && result.is_a?(StringIO))
      return [result.read.to_s, 'application/unknown']
    end

    [result.to_json, 'application/json']
  end

  def self.event_of(response)
    body = response.body.to_s
    body.empty? ? {} : JSON.parse(body)
  end

  def self.handle(client, handler, response)
    request_id = response['Lambda-Runtime-Aws-Request-Id']
    $_global_aws_request_id = request_id # rubocop:disable Style/GlobalVars (what Lambda sets)
    ENV['_X_AMZN_TRACE_ID'] = response['Lambda-Runtime-Trace-Id'] || ''
    begin
      body, content_type = payload(handler.call(event_of(response), LambdaContext.new(response)))
      client.post("/invocation/#{request_id}/response", body, nil, content_type)
      true
    rescue Exception => e # rubocop:disable Lint/RescueException (Lambda reports every one)
      failure = error_body(e, 'Function')
      log_error(failure, 'Error raised from handler method')
      client.post("/invocation/#{request_id}/error", failure.to_json, failure[:errorType])
      e.is_a?(StandardError) # anything else (exit, an Exception) ends the runtime, as on Lambda
    end
  end

  def self.main
    client = Client.new(ENV.fetch('AWS_LAMBDA_RUNTIME_API'))
    task_root = ENV.fetch('LAMBDA_TASK_ROOT', Dir.pwd)
    $LOAD_PATH.unshift(task_root) unless $LOAD_PATH.include?(task_root)
    begin
      handler = Handler.new(ENV.fetch('_HANDLER', ''))
      require handler.file
    rescue Exception => e # rubocop:disable Lint/RescueException (LoadError, SyntaxError...)
      failure = error_body(e, 'Init')
      log_error(failure, "Init error when loading handler #{ENV['_HANDLER']}")
      client.post('/init/error', failure.to_json, failure[:errorType])
      exit(1)
    end
    loop do
      break unless handle(client, handler, client.next_event)
    end
    exit(1)
  end
end

SamrunRuntime.main if $PROGRAM_NAME == __FILE__
