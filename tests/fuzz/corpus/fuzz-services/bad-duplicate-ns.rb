service_instance :vm, :vm, { :pagers => [ { :name => "a", :namespace => "x" }, { :name => "mem1", :namespace => "x" } ] }
